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
  OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN   := -fsanitize=address,undefined
else
  BUILD   ?= build
  OPT     := -O3 -march=$(ARCH) -fno-trapping-math -fno-math-errno -g
  LDSAN   :=
endif
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -fopenmp -Iinclude -Isrc $(OPT) -D_GNU_SOURCE
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

LIB_SRC := $(filter-out src/cli.c src/dist_mpi.c src/dist_stub.c,$(wildcard src/*.c)) $(DIST_SRC)
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TESTS   := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c)) $(BUILD)/twin_dump

all: $(BUILD)/fastfnet $(BUILD)/libfastfnet.a

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h include/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj:
	mkdir -p $@

$(BUILD)/libfastfnet.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/fastfnet: $(BUILD)/obj/cli.o $(BUILD)/libfastfnet.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/obj/cli.o: src/cli.c $(wildcard src/*.h include/*.h) | $(BUILD)/obj

$(BUILD)/%: tests/%.c $(BUILD)/libfastfnet.a $(wildcard tests/*.h)
	$(CC) $(CFLAGS) $< $(BUILD)/libfastfnet.a -o $@ $(LDLIBS)

tests: $(TESTS)

$(BUILD)/bench: bench/bench.c $(BUILD)/libfastfnet.a
	$(CC) $(CFLAGS) $< $(BUILD)/libfastfnet.a -o $@ $(LDLIBS)

# The whole suite, on the optimised build and on the AddressSanitizer + UBSan build.
test:
	$(MAKE) SAN=0 all tests
	$(MAKE) SAN=1 all tests
	tests/run.sh build build-san

# The optimised build only (quicker while developing).
test-fast: all tests
	tests/run.sh $(BUILD)

# Benchmarks (not tests): PROFILE=quick (minutes, what CI runs) or PROFILE=full (an hour or more).
PROFILE ?= quick
bench: all $(BUILD)/bench
	bench/run.sh $(PROFILE)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/fastfnet $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/libfastfnet.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/fastfnet.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@MPI_LIBS@|$(MPI_LIBS)|' scripts/fastfnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fastfnet.pc

clean:
	rm -rf build build-san

.PHONY: all tests test test-fast bench install clean
