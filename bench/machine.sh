# bench/machine.sh: sourced by bench/run.sh, bench/full.sh and bench/speed_ab.sh; what each of their rows says about
# the machine it ran on.
# The model name with the CPU's family and model: a KVM guest may name only "AMD EPYC", for Zen 1, 3, 4 and 5 alike.
cpu_name() {
    echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1) (family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1))"
}
# The vector ISA the kernels can use here (the default build runs AVX2 kernels, AVX-512 ones where the CPU has them).
vector_isa() { if lscpu | grep -qw avx512f; then echo AVX-512; elif lscpu | grep -qw avx2; then echo AVX2; else echo "no AVX2"; fi; }
