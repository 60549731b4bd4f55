# fuzz.mk - builds the libFuzzer harnesses of tests/fuzz/ with clang (ASan + UBSan), apart from the
# autotools build: `make -f tests/fuzz/fuzz.mk` from the top folder, or tests/fuzz/run.sh.
# The harnesses compile wsseed's own reader sources (src/) into build/libws-fuzz.a; nothing here
# needs libtorch (fuzz_at_stub.c stands in for the one shim call of ptload.c).
FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SRC := $(FUZZ_DIR)/../../src
B := $(FUZZ_DIR)/build
CC := clang
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CFLAGS := -g -O1 -std=gnu11 $(SAN) -I$(SRC) $(shell pkg-config --cflags hdf5 libpng libjpeg yaml-0.1 2>/dev/null || echo -I/usr/include/hdf5/serial)
LIBS := $(shell pkg-config --libs hdf5 libpng libjpeg yaml-0.1 2>/dev/null || echo -lhdf5_serial -lpng -ljpeg -lyaml) -lpthread -lm
HARNESSES := config split boxjson image ptload store
LIB_SRCS := core/status.c core/array.c core/strmap.c core/log.c core/fs.c core/fault.c core/rng.c data/image.c data/dataset.c \
	data/rle.c io/yaml.c io/config.c io/boxjson.c io/h5.c io/store.c io/storecheck.c io/camstore.c io/boxstore.c io/ckpt.c shim/ptload.c
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS)) $(B)/obj/fuzz_at_stub.o

all: $(addprefix $(B)/fuzz_,$(HARNESSES))

$(B)/obj/%.o: $(SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/obj/fuzz_at_stub.o: $(FUZZ_DIR)/fuzz_at_stub.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libws-fuzz.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_DIR)/fuzz_common.h $(B)/libws-fuzz.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer $< $(B)/libws-fuzz.a $(LIBS) -o $@

clean:
	rm -rf $(B)
.PHONY: all clean

# Regenerates the generated seeds (corpus/ is tracked; rerun only to refresh them).
seeds: $(B)/libws-fuzz.a
	$(CC) $(CFLAGS) $(FUZZ_DIR)/make_seed_images.c $(B)/libws-fuzz.a $(LIBS) -o $(B)/make_seed_images
	mkdir -p $(FUZZ_DIR)/corpus/image && $(B)/make_seed_images $(FUZZ_DIR)/corpus/image
	python3 $(FUZZ_DIR)/make_seeds.py $(FUZZ_DIR)/corpus
.PHONY: seeds
