# kcmptrace: one entry point for build, vmlinux, test, bench and deps.
# Build output goes to $(OUT), never into the source tree.

OUT ?= build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libyajl-dev pkg-config util-linux jq
# for the tests only: the unit file is checked with systemd-analyze, its
# syscalls with strace; CI checks the formatting with clang-format
TEST_PKGS := strace systemd clang-format

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter
INCLUDES := -Iinclude -Iuser -I$(OUT)
USER_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE $(INCLUDES) $(EXTRA_CFLAGS)
LDLIBS := -lbpf -lelf -lz -lyajl $(EXTRA_LDLIBS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Iinclude -Ivmlinux -Wall -Werror

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.lskel.h,$(BPF_SRCS)) $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.bpf.h) include/kcmptrace.h

LIB_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(LIB_SRCS))
HDRS := $(wildcard include/*.h user/*.h)

TEST_PROGS := $(patsubst tests/%.c,$(OUT)/tests/%,$(wildcard tests/*.c))
BENCH_PROGS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(wildcard tests/bench/*.c))
TEST_LIB_SRCS := $(wildcard tests/lib/*.c)

.SECONDARY: $(BPF_OBJS)
.PHONY: all run test bench deps test-deps vmlinux clean install asan asan-test format check-format

# The default target: build, then snapshot this machine.
run: deps all
	./$(OUT)/kcmptrace snapshot

all: $(OUT)/kcmptrace $(TEST_PROGS) $(BENCH_PROGS)

deps:
	@./tests/lib/deps.sh $(DEB_PKGS)

test-deps:
	@./tests/lib/deps.sh $(TEST_PKGS)

$(OUT) $(OUT)/user $(OUT)/tests $(OUT)/bench:
	@mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Light skeletons: CO-RE relocation runs in the kernel's loader program, so
# a snapshot does not parse vmlinux BTF in userspace (about 25 ms saved per
# load).  The tracer uses the full skeleton: it must resize its ring buffer.
$(OUT)/%.lskel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton -L $< > $@.tmp && mv $@.tmp $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUT)/user/%.o: user/%.c $(HDRS) $(SKELS) | $(OUT)/user
	$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUT)/libkcmptrace.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(OUT)/kcmptrace: user/main.c $(OUT)/libkcmptrace.a $(HDRS) $(SKELS)
	$(CC) $(USER_CFLAGS) $< $(OUT)/libkcmptrace.a $(LDLIBS) -o $@

$(OUT)/tests/%: tests/%.c $(TEST_LIB_SRCS) $(OUT)/libkcmptrace.a $(HDRS) $(wildcard tests/lib/*.h) | $(OUT)/tests
	$(CC) $(USER_CFLAGS) -Iuser -Itests/lib $< $(TEST_LIB_SRCS) $(OUT)/libkcmptrace.a $(LDLIBS) -lpthread -o $@

$(OUT)/bench/%: tests/bench/%.c $(TEST_LIB_SRCS) $(OUT)/libkcmptrace.a $(HDRS) | $(OUT)/bench
	$(CC) $(USER_CFLAGS) -Itests/lib $< $(TEST_LIB_SRCS) $(OUT)/libkcmptrace.a $(LDLIBS) -lpthread -o $@

test: deps test-deps all
	./tests/run.sh $(OUT)

bench: deps all
	./$(OUT)/bench/bench_snapshot
	./$(OUT)/bench/bench_trace
	./$(OUT)/bench/bench_daemon

# Sanitized build in its own output dir; any finding aborts the program,
# so the test run counts it as a failure.
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
asan:
	$(MAKE) OUT=build-asan CC=clang CFLAGS="-O1 -g $(ASAN_FLAGS) -fno-omit-frame-pointer" \
		EXTRA_LDLIBS="$(ASAN_FLAGS)" all

asan-test: deps asan
	./tests/run.sh build-asan

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h.tmp
	mv vmlinux/vmlinux.h.tmp vmlinux/vmlinux.h

FORMAT_SRCS = $(wildcard user/*.c user/*.h include/*.h tests/*.c tests/lib/*.c tests/lib/*.h \
		tests/bench/*.c bpf/*.c bpf/*.h)

format:
	clang-format -i $(FORMAT_SRCS)

check-format:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(OUT)/kcmptrace $(DESTDIR)$(PREFIX)/bin/kcmptrace
	install -D -m 0644 contrib/kcmptrace-daemon@.service \
		$(DESTDIR)/etc/systemd/system/kcmptrace-daemon@.service

clean:
	rm -rf build build-asan
