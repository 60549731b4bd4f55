#!/usr/bin/env python3
"""make_seeds.py - writes the small hand-made seeds of corpus/ (see README.md): split files, box JSON,
PNG kinds that wsseed does not write, a torch.save-style zip and the store recipes of fuzz_store.c.
Usage: make_seeds.py CORPUS_DIR (stdlib only)."""
import os
import shutil
import struct
import sys
import zipfile
import zlib

out = sys.argv[1]
top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def put(sub, name, data):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    with open(os.path.join(out, sub, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- config: a few real configs and one that uses every setting type of fuzz_config.c
for rel in ["configs/voc/base.yaml", "configs/voc/cls.yaml", "configs/voc/masks.yaml", "configs/voc/ablation-caa.yaml",
            "configs/demo.yaml"]:
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    shutil.copy(os.path.join(top, rel), os.path.join(out, "config", rel.replace("/", "_")))
put("config", "types.yaml", 'out_dir: "exp"\nrun: \'r 1\'\ntask: cls\ndata: {root: data/VOC2012, split: train}\n'
    'prompt:\n  n_ctx: 16\n  csc: yes\n  init_seed: "\\u771f"\n  init_std: 1.5e-2\naug:\n  jitter: off\n  scale_low: 288\n'
    '  mean: [0.485, 0.456, 0.406]\nloss: {mcl: 1}\ntrain:\n  lr: 0.001\n  max_iter: 1800\n')
put("config", "set.yaml", "aug.mean=[1, 2, 3]\n")

# ---- split files (also read as labels files by fuzz_split.c)
put("split", "ids.txt", "2007_000032\n2007_000039\n2007_000063\n")
put("split", "train_aug_bom_crlf.txt", "\ufeff/JPEGImages/2007_000032.jpg /SegmentationClassAug/2007_000032.png\r\n"
    "# comment\r\n\r\n  /JPEGImages/2007_000039.jpg\t/SegmentationClassAug/2007_000039.png \r\n")
put("split", "labels.txt", "val\n2007_000032 1 15\n2007_000039 20\n")

# ---- box JSON: a results list and a COCO dataset file
put("boxjson", "results.json", '[{"image_id": "2007_000032", "category_id": 1, "bbox": [10, 20, 30.5, 40], "score": 0.9},\n'
    ' {"image_id": 9, "category_id": 15, "bbox": [0, 0, 1, 1]}]\n')
put("boxjson", "dataset.json", '{"images": [{"id": 9, "file_name": "train2014/COCO_train2014_000000000009.jpg"}],\n'
    ' "annotations": [{"image_id": 9, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 1}]}\n')


# ---- PNG kinds (wsseed itself writes 8-bit grey and palette ones: make_seed_images.c)
def png(w, h, bit_depth, colour, rows, plte=None, interlace=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    body = chunk(b"IHDR", ihdr) + (chunk(b"PLTE", plte) if plte else b"") + chunk(b"IDAT", zlib.compress(raw))
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


put("image", "rgb8_3x2.png", png(3, 2, 8, 2, [bytes(range(9)), bytes(range(9, 18))]))
put("image", "rgba8_2x2.png", png(2, 2, 8, 6, [bytes(range(8)), bytes(range(8, 16))]))
put("image", "grey16_2x2.png", png(2, 2, 16, 0, [b"\x01\x00\xff\xff", b"\x00\x00\x80\x00"]))
put("image", "palette1_8x2.png", png(8, 2, 1, 3, [b"\xa5", b"\x5a"], plte=b"\0\0\0\xff\xff\xff"))

# ---- a torch.save zip: {'w': FloatTensor(2, 3)} as OrderedDict, protocol 2


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


pkl = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(" + binunicode("w") +
       b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((" + binunicode("storage") + b"ctorch\nFloatStorage\nq\x03" +
       binunicode("0") + binunicode("cpu") + b"K\x06tq\x04QK\x00K\x02K\x03\x86q\x05K\x03K\x01\x86q\x06\x89"
       b"ccollections\nOrderedDict\nq\x07)Rq\x08tq\x09Rq\x0au.")
import io
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", pkl)
    z.writestr("archive/data/0", struct.pack("<6f", 1, 2, 3, 4, 5, 6))
    z.writestr("archive/version", "3\n")
put("ptload", "state_dict.pt", buf.getvalue())

# ---- store recipes (fuzz_store.c): kind, flags, then per dataset: rank byte, sizes, values


def ds(rank_byte, dims, fmt, values):
    return bytes([rank_byte] + list(dims)) + struct.pack("<" + fmt * len(values), *values)


masks = bytes([0, 0]) + ds(1, [3], "q", [1, 5, 6]) + ds(1, [3], "q", [0, 2, 3]) + ds(1, [2], "q", [2, 3]) + \
    ds(1, [2], "q", [5, 6]) + ds(2, [2, 4], "q", [0, 0, 3, 2] * 2) + ds(2, [2, 4], "q", [0, 0, 3, 2] * 2) + \
    ds(1, [2], "q", [0, 1]) + b"".join(ds(1, [2], "f", [0.9, 0.8]) for _ in range(5)) + ds(2, [2, 2], "d", [1, 1, 2, 0])
put("store", "masks.bin", masks)
cams = bytes([1, 1]) + ds(3, [1, 2, 2], "f", [0.1, 0.2, 0.3, 0.4]) + ds(1, [1], "q", [3]) + ds(1, [1], "f", [2.5]) + \
    ds(1, [5], "f", [0, 1, 2, 3, 4]) + ds(1, [2], "q", [4, 4]) + ds(2, [4, 4], "f", [1.0 / 16] * 16)
put("store", "cams.bin", cams)
boxes = bytes([2, 2]) + ds(1, [5], "B", [0, 1, 0, 0, 1]) + ds(1, [5], "B", [0, 1, 0, 0, 0]) + \
    ds(2, [1, 4], "f", [1, 2, 3, 4]) + ds(1, [1], "f", [0.5]) + ds(1, [1], "q", [1]) + ds(1, [2], "q", [8, 8])
put("store", "boxes.bin", boxes)
ckpt = bytes([3, 0]) + ds(0, [], "q", [1]) + ds(5, [8], "q", [512, 512, 768, 12, 45, 16, 0, 0]) + ds(0, [], "q", [7]) + \
    ds(0, [], "q", [1]) + ds(2, [2, 3], "f", [0.0] * 6) + b"\xff" + ds(5, [8], "q", list(range(624))) + \
    ds(0, [], "q", [3]) + ds(0, [], "q", [0]) + ds(0, [], "q", [1]) + ds(1, [3], "q", [2, 0, 1]) + \
    bytes([3]) + b"cls" + bytes([10]) + b"run: x\nk: 1"
put("store", "ckpt.bin", ckpt)
