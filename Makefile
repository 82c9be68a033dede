# nestbench - one non-recursive build: the native binary, guest payloads, tests.
#
#   make            build build/nestbench
#   make run        install missing packages, build, run the quick suite natively
#   make test       install missing packages, build, run unit + CLI tests
#   make deps       install missing Debian packages (root), or print the apt-get line
#   make CC=clang   the build is warning-free with gcc and clang
#
# Sources are picked up by directory (harness/, bench/, analysis/), so adding
# a module means adding a .c/.h pair, not editing this file.

CC        ?= cc
BUILD     := build
VERSION   := $(shell git describe --always --dirty --tags 2>/dev/null || echo unknown)
PKGS      := hwloc jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wformat=2 -Wundef -Wvla -Wcast-qual -Wnull-dereference
CFLAGS    ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Iharness -Ibench -Ianalysis $(PKG_CFLAGS) \
              -DNESTBENCH_VERSION='"$(VERSION)"' -MMD -MP
LDLIBS    := $(PKG_LIBS) -lpfm -lm -lpthread

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRC       := $(wildcard harness/*.c bench/*.c analysis/*.c)
LIB_SRC   := $(filter-out harness/main.c,$(SRC))
OBJ       := $(SRC:%.c=$(BUILD)/obj/%.o)
SAN_OBJ   := $(LIB_SRC:%.c=$(BUILD)/san/%.o)
UNIT_SRC  := $(wildcard ci/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:ci/unit/%.c=$(BUILD)/unit/%)

.PHONY: all deps run test unit bats lint clean fuzz
all: $(BUILD)/nestbench

# Guest payload fragments add their own rules and append to GUEST_IMAGES.
GUEST_IMAGES :=
include $(wildcard guest-payloads/*.mk)

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/nestbench: $(OBJ) $(GUEST_IMAGES)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

# Unit tests: every library module rebuilt with ASan + UBSan, one binary per test file.
$(BUILD)/san/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC-SAN  $<"
	$(Q)$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -c -o $@ $<

$(BUILD)/unit/%: ci/unit/%.c $(SAN_OBJ)
	@mkdir -p $(@D)
	@echo "  UNIT    $@"
	$(Q)$(CC) $(BASE_CFLAGS) -O1 -g $(SAN_FLAGS) -o $@ $< $(SAN_OBJ) $(LDLIBS) -lcmocka

deps:
	@ci/install-deps.sh

# One name for the run's results file and its report (evaluated once).
RUN_NAME := $(shell hostname | tr -c 'A-Za-z0-9._\n-' _)-$(shell date -u +%Y%m%dT%H%M%SZ)
SUITE    ?= quick

run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/nestbench run --suite $(SUITE) --out results/$(RUN_NAME).json
	$(BUILD)/nestbench report results/$(RUN_NAME).json --out results/reports/$(RUN_NAME)

unit: $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory all unit
	@ci/run-tests.sh

lint:
	bats ci/bats/lint.bats

# Fuzz the results-file reader with libFuzzer for FUZZ_SECONDS (clang only).
FUZZ_SECONDS ?= 60
FUZZ_SRC  := analysis/resfile.c analysis/identity.c analysis/match.c analysis/bootstrap.c harness/util.c \
             harness/stats.c
fuzz:
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/crashes
	clang $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -o $(BUILD)/fuzz/fuzz_resfile \
		ci/fuzz/fuzz_resfile.c $(FUZZ_SRC) $(PKG_LIBS) -lm
	cp ci/fixtures/*.json ci/fuzz/regressions/*.json $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/fuzz_resfile -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(BUILD)/fuzz/crashes/ $(BUILD)/fuzz/corpus

clean:
	rm -rf $(BUILD)

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d)
