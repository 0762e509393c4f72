# fastfnet: make | make shared | make test | make test SAN=1 | make bench | make install PREFIX=/usr/local
# Two libraries: libfastfnet (src/engine: the model, its ops, Fourier mixing, checkpoints, tokenizers; public
# header include/fastfnet.h) and libfastfnet_train (src/app: trainer, data sets, plots, MPI; links
# libfastfnet); the tool (src/cli) links both. Each builds as BUILD/libX.a and BUILD/libX.so.MAJOR.MINOR.PATCH.
CC      ?= cc
CXX     ?= c++
PREFIX  ?= /usr/local
SAN     ?= 0
# The default build runs on any x86-64-v3 (AVX2) CPU and dispatches to AVX-512 kernels where the CPU has them
# (src/engine/simd.c); ARCH=native tunes everything to the building machine, which may then be the only one it runs on.
# No trapping math and no errno from sqrtf: otherwise a compare or a sqrt may not run on every vector lane at
# once, and the kernels' selects stay branches on AVX2 (AVX-512 masks them); no code here reads either.
ARCH    ?= $(if $(filter x86_64,$(shell uname -m)),x86-64-v3,native)
# CFLAGS / CXXFLAGS / LDFLAGS are the user's (optimisation, debugging): what the code needs to build right
# (language, OpenMP, include paths, visibility, PIC, sanitizers) is in REQ_* and is added whatever they say.
ifeq ($(SAN),1)
  BUILD    ?= build-san
  CFLAGS   ?= -O1 -g -fno-omit-frame-pointer
  LDSAN    := -fsanitize=address,undefined,float-cast-overflow
  REQ_SAN  := $(LDSAN) -fno-sanitize-recover=undefined,float-cast-overflow
else
  BUILD    ?= build
  CFLAGS   ?= -O3 -march=$(ARCH) -fno-trapping-math -fno-math-errno -g
  REQ_SAN  :=
  LDSAN    :=
endif
CXXFLAGS ?= $(CFLAGS)
REQ_CFLAGS   := -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_GNU_SOURCE -MMD -MP $(REQ_SAN)
REQ_CXXFLAGS := -std=c++17 -Wall -Wextra -MMD -MP $(REQ_SAN)
# library code: position-independent (one object serves the .a and the .so) and hidden unless FASTFNET_API
REQ_LIBFLAGS := -fPIC -fvisibility=hidden
ENGINE_INC := -Iinclude -Isrc/engine
# the application and the tool include only include/ headers (and their own); the tests reach into internals
APP_INC    := -Iinclude -Isrc/app
TOOL_INC   := $(APP_INC) -Isrc/cli
TEST_INC   := $(TOOL_INC) -Isrc/engine
# the version is the header's (FASTFNET_VERSION_MAJOR/MINOR/PATCH); the SONAME carries the major
version_part = $(shell sed -n 's/^\#define FASTFNET_VERSION_$(1) \([0-9]*\).*/\1/p' include/fastfnet.h)
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SOMAJOR := $(call version_part,MAJOR)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null)

# OpenBLAS built on OpenMP shares our OpenMP thread pool; the default (pthreads) build keeps its own threads,
# which spin against ours between calls. Use the OpenMP build when Debian's libopenblas0-openmp is there
# (Debian's openblas.pc names the pthreads build, so the path is spelled out, with an rpath).
OPENBLAS_OMP := /usr/lib/x86_64-linux-gnu/openblas-openmp
ifneq ($(wildcard $(OPENBLAS_OMP)/libopenblas.so.0),)
  BLASLIB := -L$(OPENBLAS_OMP) -l:libopenblas.so.0 -Wl,-rpath,$(OPENBLAS_OMP)
else
  BLASLIB := -lopenblas
endif

# Data-parallel training over MPI: on when mpicc is found (Debian: libopenmpi-dev), off with USE_MPI=0;
# without it src/app/dist_stub.c stands in (one process). Only the application sees MPI.
USE_MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(USE_MPI),1)
  MPI_CFLAGS := $(shell mpicc --showme:compile)
  MPI_LIBS   := $(shell mpicc --showme:link)
  DIST_SRC   := src/app/dist_mpi.c
else
  DIST_SRC   := src/app/dist_stub.c
endif

# SentencePiece tokenizers (.model files): on when Debian's libsentencepiece-dev is installed, off with
# USE_SPM=0; src/engine/spm.cpp (the one C++ file) wraps the library, src/engine/spm_stub.c stands in without it.
USE_SPM ?= $(if $(wildcard /usr/include/sentencepiece_processor.h),1,0)
ifeq ($(USE_SPM),1)
  SPM_OBJ  := $(BUILD)/obj/engine/spm.o
  SPM_LIBS := -lsentencepiece -lsentencepiece_train -lstdc++
  SPM_VERSION := $(shell pkg-config --modversion sentencepiece 2>/dev/null || dpkg-query -W -f='$${Version}' libsentencepiece-dev 2>/dev/null)
else
  SPM_OBJ  := $(BUILD)/obj/engine/spm_stub.o
endif

# what each library needs from the system (the .pc files' Libs.private say the same)
ENGINE_LIBS := -lfftw3f_omp -lfftw3f $(BLASLIB) $(SPM_LIBS) -lm -fopenmp
APP_LIBS    := $(MPI_LIBS)

ENGINE_SRC := $(filter-out src/engine/spm_stub.c,$(wildcard src/engine/*.c))
ENGINE_OBJ := $(ENGINE_SRC:src/%.c=$(BUILD)/obj/%.o) $(SPM_OBJ)
APP_SRC    := $(filter-out src/app/dist_mpi.c src/app/dist_stub.c,$(wildcard src/app/*.c)) $(DIST_SRC)
APP_OBJ    := $(APP_SRC:src/%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(BUILD)/obj/cli/cli.o
DIE_OBJ    := $(BUILD)/obj/cli/die.o
TESTS      := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c)) $(BUILD)/twin_dump
ENGINE_A   := $(BUILD)/libfastfnet.a
TRAIN_A    := $(BUILD)/libfastfnet_train.a
ENGINE_SO  := $(BUILD)/libfastfnet.so.$(VERSION)
TRAIN_SO   := $(BUILD)/libfastfnet_train.so.$(VERSION)
STATIC_LIBS := $(TRAIN_A) $(ENGINE_A)
ALL_LIBS    := $(ENGINE_LIBS) $(APP_LIBS) $(LDSAN)

all: $(BUILD)/fastfnet $(ENGINE_A) $(TRAIN_A) shared
shared: $(ENGINE_SO) $(TRAIN_SO) $(BUILD)/libfastfnet.so $(BUILD)/libfastfnet_train.so

# A change of build options rebuilds everything compiled in this build directory: the options are kept in
# BUILD/flags and every object depends on it; the file is rewritten only when they differ.
FLAGS_NOW := $(CC) $(CXX) $(CFLAGS) $(CXXFLAGS) $(REQ_CFLAGS) $(REQ_CXXFLAGS) $(REQ_LIBFLAGS) $(MPI_CFLAGS) \
             USE_MPI=$(USE_MPI) USE_SPM=$(USE_SPM) $(SPM_VERSION) $(ENGINE_LIBS) $(APP_LIBS) $(LDFLAGS)
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(file <$(BUILD)/flags),$(FLAGS_NOW))
  $(shell mkdir -p $(BUILD))
  $(file >$(BUILD)/flags,$(FLAGS_NOW))
endif
endif
# the tool's version line names the commit; kept apart so that a new commit rebuilds only the tool's main object
CLI_VERSION := $(VERSION)$(if $(GIT_REV), (git $(GIT_REV)))
ifneq ($(MAKECMDGOALS),clean)
ifneq ($(file <$(BUILD)/cli_version),$(CLI_VERSION))
  $(file >$(BUILD)/cli_version,$(CLI_VERSION))
endif
endif

ENGINE_CFLAGS = $(REQ_CFLAGS) $(REQ_LIBFLAGS) $(ENGINE_INC) $(CFLAGS)
APP_CFLAGS    = $(REQ_CFLAGS) $(REQ_LIBFLAGS) $(APP_INC) $(MPI_CFLAGS) $(CFLAGS)
TOOL_CFLAGS   = $(REQ_CFLAGS) $(TOOL_INC) $(MPI_CFLAGS) $(CFLAGS)

$(BUILD)/obj/engine/%.o: src/engine/%.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(ENGINE_CFLAGS) -c $< -o $@

$(BUILD)/obj/engine/spm.o: src/engine/spm.cpp $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CXX) $(REQ_CXXFLAGS) $(REQ_LIBFLAGS) $(ENGINE_INC) $(CXXFLAGS) -DFASTFNET_SPM_VERSION='"$(SPM_VERSION)"' -c $< -o $@

$(BUILD)/obj/app/%.o: src/app/%.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) -c $< -o $@

$(DIE_OBJ): src/cli/die.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -c $< -o $@

$(CLI_OBJ): src/cli/cli.c $(BUILD)/flags $(BUILD)/cli_version
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -DFASTFNET_WITH_MPI=$(USE_MPI) -DFASTFNET_VERSION='"$(CLI_VERSION)"' -c $< -o $@

$(ENGINE_A): $(ENGINE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(TRAIN_A): $(APP_OBJ)
	rm -f $@
	ar rcs $@ $^

# -z defs: a symbol the engine uses but nothing it links defines is a link error here, not at a user's load
$(ENGINE_SO): $(ENGINE_OBJ)
	$(CC) -shared -Wl,-soname,libfastfnet.so.$(SOMAJOR) -Wl,-z,defs $(LDFLAGS) $^ -o $@ $(ENGINE_LIBS) $(LDSAN)

# RUNPATH $ORIGIN: the loader finds libfastfnet.so.0 beside it (a program's own RUNPATH covers only its direct
# dependencies, and one linked with --as-needed against the trainer alone does not list the engine)
$(TRAIN_SO): $(APP_OBJ) $(BUILD)/libfastfnet.so
	$(CC) -shared -Wl,-soname,libfastfnet_train.so.$(SOMAJOR) -Wl,-z,defs -Wl,-rpath,'$$ORIGIN' $(LDFLAGS) $(APP_OBJ) -o $@ \
		-L$(BUILD) -l:libfastfnet.so.$(SOMAJOR) $(ENGINE_LIBS) $(APP_LIBS) $(LDSAN)

# the links a loader (SONAME) and a linker (-lX) look for
$(BUILD)/%.so: $(BUILD)/%.so.$(VERSION)
	ln -sf $*.so.$(VERSION) $(BUILD)/$*.so.$(SOMAJOR)
	ln -sf $*.so.$(SOMAJOR) $@

# The tool and the tests link the static archives (the tests reach into internals).
$(BUILD)/fastfnet: $(CLI_OBJ) $(DIE_OBJ) $(STATIC_LIBS)
	$(CC) $(LDFLAGS) $^ -o $@ $(ALL_LIBS)

$(BUILD)/%: tests/%.c $(DIE_OBJ) $(STATIC_LIBS) $(wildcard tests/*.h) $(BUILD)/flags
	$(CC) $(REQ_CFLAGS) $(TEST_INC) $(CFLAGS) $(LDFLAGS) $< $(DIE_OBJ) $(STATIC_LIBS) -o $@ $(ALL_LIBS)

tests: $(TESTS) $(BUILD)/bench

$(BUILD)/bench: bench/bench.c $(DIE_OBJ) $(STATIC_LIBS)
	$(CC) $(REQ_CFLAGS) $(TEST_INC) $(CFLAGS) $(LDFLAGS) $< $(DIE_OBJ) $(STATIC_LIBS) -o $@ $(ALL_LIBS)

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/*.d)

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

# make install PREFIX=DIR [DESTDIR=STAGE]: the tool, both libraries (.so.VERSION, the SONAME and .so links,
# .a), the public headers (include/*.h) and the pkg-config files; make uninstall removes exactly those.
LIBDIR      := $(PREFIX)/lib
INSTALL_HDR := $(wildcard include/*.h)
INSTALLED   := $(DESTDIR)$(PREFIX)/bin/fastfnet $(INSTALL_HDR:include/%=$(DESTDIR)$(PREFIX)/include/%) \
               $(foreach l,libfastfnet libfastfnet_train,$(foreach s,.a .so .so.$(SOMAJOR) .so.$(VERSION),$(DESTDIR)$(LIBDIR)/$(l)$(s))) \
               $(DESTDIR)$(LIBDIR)/pkgconfig/fastfnet.pc $(DESTDIR)$(LIBDIR)/pkgconfig/fastfnet_train.pc
PC_SUBST = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
           -e 's|@ENGINE_LIBS@|$(ENGINE_LIBS)|g' -e 's|@APP_LIBS@|$(APP_LIBS)|g'

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/fastfnet $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(INSTALL_HDR) $(DESTDIR)$(PREFIX)/include/
	for l in libfastfnet libfastfnet_train; do \
	  install -m 644 $(BUILD)/$$l.a $(DESTDIR)$(LIBDIR)/ && \
	  install -m 755 $(BUILD)/$$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/ && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SOMAJOR) && \
	  ln -sf $$l.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; \
	done
	sed $(PC_SUBST) scripts/fastfnet.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/fastfnet.pc
	sed $(PC_SUBST) scripts/fastfnet_train.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/fastfnet_train.pc

uninstall:
	rm -f $(INSTALLED)

clean: fuzz-clean
	rm -rf build build-san python/build python/fastfnet.egg-info

.PHONY: all shared tests test test-fast bench campaign install uninstall clean

# ---- fuzzing: libFuzzer harnesses for the parsers of user files (tests/fuzz/, docs/FUZZING.md) ----
# make fuzz runs each harness for FUZZ_SECONDS (default 60) on its corpus in build-fuzz/corpus/ (seeded
# from tests/fuzz/<name>/); make test runs each for a few seconds. Needs clang with libFuzzer
# (Debian: clang, libclang-rt-14-dev; scripts/deps.sh installs them).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
# (-Wno-pass-failed: at -O1 clang does not vectorise the engine's `omp simd` loops and says so for each; speed
# does not matter in the fuzz build, and the 45 lines hid real warnings in the test log)
FUZZ_CFLAGS  := -std=c11 -Wall -Wextra -Wno-unused-parameter -Wno-pass-failed -fopenmp -D_GNU_SOURCE -MMD -MP \
                -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SAN     := address,undefined
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# the engine and the application's record readers (data.h), one process, with the SentencePiece wrapper
# when the library is there
FUZZ_LIB_SRC := $(ENGINE_SRC) $(filter-out src/app/dist_mpi.c,$(wildcard src/app/*.c))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o) $(SPM_OBJ:$(BUILD)/%=$(FUZZ_BUILD)/%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/engine/%.o: src/engine/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ENGINE_INC) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/obj/app/%.o: src/app/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(APP_INC) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/obj/engine/spm.o: src/engine/spm.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CC)++ -std=c++17 -MMD -MP $(ENGINE_INC) -O1 -g -DFASTFNET_SPM_VERSION='"$(SPM_VERSION)"' -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -fno-sanitize=vptr -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(TEST_INC) -fsanitize=fuzzer,$(FUZZ_SAN) $< $(FUZZ_LIB_OBJ) -o $@ -lfftw3f_omp -lfftw3f $(BLASLIB) $(SPM_LIBS) -lm -fopenmp

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d)
# the objects are named only as prerequisites of a pattern rule: keep them between builds
.SECONDARY: $(FUZZ_LIB_OBJ) $(ENGINE_OBJ) $(APP_OBJ)
.PHONY: fuzz fuzz-build fuzz-clean
