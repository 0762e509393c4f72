# fastfnet: make | make test | make test SAN=1 | make bench | make install PREFIX=/usr/local
CC      ?= cc
PREFIX  ?= /usr/local
SAN     ?= 0
# The default build runs on any x86-64-v3 (AVX2) CPU and dispatches to AVX-512 kernels where the CPU has them
# (src/simd.c); ARCH=native tunes everything to the building machine, which may then be the only one it runs on.
# No trapping math and no errno from sqrtf: otherwise a compare or a sqrt may not run on every vector lane at
# once, and the kernels' selects stay branches on AVX2 (AVX-512 masks them); no code here reads either.
ARCH    ?= $(if $(filter x86_64,$(shell uname -m)),x86-64-v3,native)
ifeq ($(SAN),1)
  BUILD   ?= build-san
  OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow
  LDSAN   := -fsanitize=address,undefined,float-cast-overflow
else
  BUILD   ?= build
  OPT     := -O3 -march=$(ARCH) -fno-trapping-math -fno-math-errno -g
  LDSAN   :=
endif
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -Iinclude -Isrc $(OPT) -D_GNU_SOURCE
# OpenBLAS built on OpenMP shares our OpenMP thread pool; the default (pthreads) build keeps its own threads,
# which spin against ours between calls. Use the OpenMP build when Debian's libopenblas0-openmp is there.
OPENBLAS_OMP := /usr/lib/x86_64-linux-gnu/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_OMP)/libopenblas.so.0),)
  BLASLIB := -L$(OPENBLAS_OMP) -l:libopenblas.so.0 -Wl,-rpath,$(OPENBLAS_OMP)
else
  BLASLIB := -lopenblas
endif
LDLIBS  += -lfftw3f_omp -lfftw3f $(BLASLIB) -lm -fopenmp $(LDSAN)

# Data-parallel training over MPI: on when mpicc is found (Debian: libopenmpi-dev), off with USE_MPI=0;
# without it src/dist_stub.c stands in (one process).
USE_MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(USE_MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile)
  MPI_LIBS   := $(shell mpicc --showme:link)
  DIST_SRC   := src/dist_mpi.c
else
  DIST_SRC   := src/dist_stub.c
endif
CFLAGS  += $(MPI_CFLAGS)
LDLIBS  += $(MPI_LIBS)

# SentencePiece tokenizers (.model files): on when Debian's libsentencepiece-dev is installed, off with
# USE_SPM=0; src/spm.cpp (the one C++ file) wraps the library, src/spm_stub.c stands in without it.
CXX     ?= c++
USE_SPM ?= $(if $(wildcard /usr/include/sentencepiece_processor.h),1,0)
ifeq ($(USE_SPM),1)
  SPM_OBJ  := $(BUILD)/obj/spm.o
  SPM_LIBS := -lsentencepiece -lsentencepiece_train -lstdc++
  SPM_VERSION := $(shell pkg-config --modversion sentencepiece 2>/dev/null || dpkg-query -W -f='$${Version}' libsentencepiece-dev 2>/dev/null)
else
  SPM_OBJ  := $(BUILD)/obj/spm_stub.o
endif
CXXFLAGS += -std=c++17 -Wall -Wextra -Iinclude -Isrc $(OPT) -DFFN_SPM_VERSION='"$(SPM_VERSION)"'
LDLIBS  += $(SPM_LIBS)
VERSION := 0.1.0
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null)

LIB_SRC := $(filter-out src/cli.c src/dist_mpi.c src/dist_stub.c src/spm_stub.c,$(wildcard src/*.c)) $(DIST_SRC)
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o) $(SPM_OBJ)
TESTS   := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c)) $(BUILD)/twin_dump

all: $(BUILD)/fastfnet $(BUILD)/libfastfnet.a

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h include/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/spm.o: src/spm.cpp src/spm.h | $(BUILD)/obj
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj:
	mkdir -p $@

$(BUILD)/libfastfnet.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fastfnet: $(BUILD)/obj/cli.o $(BUILD)/libfastfnet.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/obj/cli.o: src/cli.c $(wildcard src/*.h include/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -DFFN_WITH_MPI=$(USE_MPI) -DFFN_VERSION='"$(VERSION)$(if $(GIT_REV), (git $(GIT_REV)))"' -c $< -o $@

$(BUILD)/%: tests/%.c $(BUILD)/libfastfnet.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) $< $(BUILD)/libfastfnet.a -o $@ $(LDLIBS)

tests: $(TESTS)

$(BUILD)/bench: bench/bench.c $(BUILD)/libfastfnet.a
	$(CC) $(CFLAGS) $< $(BUILD)/libfastfnet.a -o $@ $(LDLIBS)

# The whole suite, on the optimised build and on the AddressSanitizer + UBSan build.
test:
	$(MAKE) SAN=0 all tests
	$(MAKE) SAN=1 all tests
	$(MAKE) fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) tests/run.sh build build-san

# The optimised build only (quicker while developing).
test-fast: all tests
	tests/run.sh $(BUILD)

# Benchmarks (not tests): PROFILE=quick (minutes, what CI runs) or PROFILE=full (an hour or more).
PROFILE ?= quick
bench: all $(BUILD)/bench
	bench/run.sh $(PROFILE)

# The accuracy campaign (bench/full.sh; resumable, filters BENCH_TASKS / BENCH_MODELS / BENCH_SEEDS), then its report.
campaign: all
	bench/full.sh $(PROFILE)
	bench/full_report.py build/campaign-$(PROFILE)/results-full.jsonl --out build/campaign-$(PROFILE)/RESULTS-full.md \
	    --svg-prefix build/campaign-$(PROFILE)/results --runs build/campaign-$(PROFILE)/runs --ff $(BUILD)/fastfnet

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/fastfnet $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libfastfnet.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/fastfnet.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@MPI_LIBS@|$(MPI_LIBS) $(SPM_LIBS)|' scripts/fastfnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fastfnet.pc

clean: fuzz-clean
	rm -rf build build-san

.PHONY: all tests test test-fast bench campaign install clean

# ---- fuzzing: libFuzzer harnesses for the parsers of user files (tests/fuzz/, docs/FUZZING.md) ----
# make fuzz runs each harness for FUZZ_SECONDS (default 60) on its corpus in build-fuzz/corpus/ (seeded
# from tests/fuzz/<name>/); make test runs each for a few seconds. Needs clang with libFuzzer
# (Debian: clang, libclang-rt-14-dev; scripts/deps.sh installs them).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -Iinclude -Isrc -D_GNU_SOURCE \
                -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SAN     := address,undefined
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# the whole engine (config validation counts parameters through the model's tensor table), one process,
# with the SentencePiece wrapper when the library is there
FUZZ_LIB_SRC := $(filter-out src/cli.c src/dist_mpi.c src/spm_stub.c,$(wildcard src/*.c))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
ifeq ($(USE_SPM),1)
  FUZZ_LIB_OBJ += $(FUZZ_BUILD)/obj/spm.o
else
  FUZZ_LIB_OBJ += $(FUZZ_BUILD)/obj/spm_stub.o
endif
FUZZ_LIBS    := -lfftw3f_omp -lfftw3f $(BLASLIB) $(SPM_LIBS) -lm -fopenmp
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: src/%.c $(wildcard src/*.h include/*.h) | $(FUZZ_BUILD)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/obj/spm.o: src/spm.cpp src/spm.h | $(FUZZ_BUILD)/obj
	$(FUZZ_CC)++ -std=c++17 -Iinclude -Isrc -O1 -g -DFFN_SPM_VERSION='"$(SPM_VERSION)"' -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize=vptr -c $< -o $@

$(FUZZ_BUILD)/obj:
	mkdir -p $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) $< $(FUZZ_LIB_OBJ) -o $@ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

# the objects are named only as prerequisites of a pattern rule: keep them between builds
.SECONDARY: $(FUZZ_LIB_OBJ)
.PHONY: fuzz fuzz-build fuzz-clean
