# guest.mk - the freestanding guest payload, and its embedding into nestbench.
#
# The payload (entry.S, kernel.c, user.c, gsys.c, guest_pt.c, and the
# header-only core/chase.h and core/tsc.h) is compiled with freestanding flags, linked at 1 MiB with guest.ld
# and flattened to build/guest/payload.bin, which payload_blob.S includes.
# guest_pt.c is also compiled into the host binary (the VMM builds the boot
# tables with it, the unit tests walk what it builds).

GUEST_DIR    := $(BUILD)/guest
GUEST_SRC    := $(addprefix guest-payloads/,entry.S kernel.c user.c gsys.c guest_pt.c)
GUEST_OBJ    := $(patsubst guest-payloads/%,$(GUEST_DIR)/%.o,$(GUEST_SRC))
GUEST_CFLAGS := -std=c11 $(WARN) -O2 -g -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
                -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
                -mno-red-zone -mcmodel=small -mno-mmx -mno-sse -mno-sse2 -mno-avx -mno-80387 \
                -DNESTBENCH_FREESTANDING -I. -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -Wl,-T,guest-payloads/guest.ld -Wl,--build-id=none \
                 -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments

GUEST_IMAGES += $(GUEST_DIR)/payload.bin

$(GUEST_DIR)/%.S.o: guest-payloads/%.S guest-payloads/protocol.h
	@mkdir -p $(@D)
	@echo "  AS-G    $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/%.c.o: guest-payloads/%.c
	@mkdir -p $(@D)
	@echo "  CC-G    $<"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_DIR)/payload.elf: $(GUEST_OBJ) guest-payloads/guest.ld
	@echo "  LD-G    $@"
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJ)

$(GUEST_DIR)/payload.bin: $(GUEST_DIR)/payload.elf
	@echo "  IMAGE   $@"
	$(Q)objcopy -O binary --only-section=.text --only-section=.rodata --only-section=.data $< $@

# The image inside the host binary (and inside the unit-test binaries).
$(BUILD)/obj/guest-payloads/payload_blob.o $(BUILD)/san/guest-payloads/payload_blob.o: \
		guest-payloads/payload_blob.S $(GUEST_DIR)/payload.bin
	@mkdir -p $(@D)
	@echo "  EMBED   $@"
	$(Q)$(CC) -c -DNB_PAYLOAD_BIN='"$(GUEST_DIR)/payload.bin"' -o $@ $<

# The page-table builder in the host binary and the unit tests.
OBJ     += $(BUILD)/obj/guest-payloads/guest_pt.o $(BUILD)/obj/guest-payloads/payload_blob.o
SAN_OBJ += $(BUILD)/san/guest-payloads/guest_pt.o $(BUILD)/san/guest-payloads/payload_blob.o

-include $(GUEST_OBJ:.o=.d)
