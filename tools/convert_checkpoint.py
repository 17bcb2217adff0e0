#!/usr/bin/python3
"""Convert an upstream PyTorch checkpoint (.pt/.pth) to safetensors, once, offline.

edgeherd never reads pickle at run time; this script is the only place a checkpoint is
unpickled, with Debian's python3-torch (/usr/bin/python3). Keys are written unchanged.

  /usr/bin/python3 tools/convert_checkpoint.py sam3.pt sam3.safetensors
  /usr/bin/python3 tools/convert_checkpoint.py tiny_vit_21m_22kto1k_512_distill.pth tinyvit.safetensors \
      --drop 'attention_bias_idxs$'
  /usr/bin/python3 tools/convert_checkpoint.py sam3.pt trunk.safetensors \
      --prefix detector.backbone.vision_backbone.

Weights nested under 'model' or 'state_dict' are found automatically; a flat dict works too.
"""
import argparse
import json
import os
import re
import struct
import sys


def _dtypes(torch):
    return {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
            torch.bool: "BOOL"}


def find_state_dict(obj):
    """Return the tensor dict inside a checkpoint: obj['model'], obj['state_dict'] or obj itself."""
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return obj[key], key
    return obj, None


def write_safetensors(path, tensors, metadata):
    import torch
    names = _dtypes(torch)
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        t = t.detach().cpu().contiguous()
        if t.dtype not in names:
            raise SystemExit(f"{name}: dtype {t.dtype} cannot be stored in safetensors")
        pad = (-offset) % 8
        if pad:
            blobs.append(b"\0" * pad)
            offset += pad
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="upstream .pt/.pth file")
    p.add_argument("output", help="safetensors file to write (never overwritten)")
    p.add_argument("--prefix", default="", help="keep only keys starting with this prefix")
    p.add_argument("--strip-prefix", action="store_true", help="remove --prefix from the written keys")
    p.add_argument("--drop", action="append", default=[], help="regex of keys to leave out (repeatable)")
    args = p.parse_args(argv)

    if os.path.exists(args.output):
        sys.exit(f"{args.output}: exists; refusing to overwrite")
    import torch
    try:
        obj = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(args.checkpoint, map_location="cpu")
    sd, nested = find_state_dict(obj)
    if not isinstance(sd, dict):
        sys.exit(f"{args.checkpoint}: no state dict found (top-level type {type(obj).__name__})")
    drops = [re.compile(d) for d in args.drop]
    out, skipped = [], []
    for k, v in sd.items():
        if not k.startswith(args.prefix) or any(d.search(k) for d in drops):
            continue
        if not torch.is_tensor(v):
            skipped.append(k)
            continue
        out.append((k[len(args.prefix):] if args.strip_prefix else k, v.clone()))
    if not out:
        sys.exit(f"{args.checkpoint}: no tensors selected (prefix '{args.prefix}')")
    meta = {"source": os.path.basename(args.checkpoint), "format": "pt"}
    if args.prefix:
        meta["prefix"] = args.prefix + (" (stripped)" if args.strip_prefix else "")
    write_safetensors(args.output, out, meta)
    n = sum(t.numel() for _, t in out)
    print(f"{args.output}: {len(out)} tensors, {n:,} elements"
          + (f" (from '{nested}')" if nested else "")
          + (f"; skipped {len(skipped)} non-tensor entries" if skipped else ""))


if __name__ == "__main__":
    main()
