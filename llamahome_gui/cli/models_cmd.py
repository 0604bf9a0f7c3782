"""``llamahome models list|info|import|add|forget|remove|download|cache|import-starter``: every
local model from the terminal, the same core calls the Models page makes.

Exit codes: 0 done, 1 the action failed or was declined, 2 bad input (one line on stderr),
130 interrupted (nothing half-written is left).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, import, download and remove models",
                       description="Every model the app can use: the models folder (imported "
                       "and converted models), the Hugging Face cache, folders and GGUF files "
                       "you added.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(func=lambda _args: (p.print_help(), 1)[1])

    ls = msub.add_parser("list", help="list every model",
                         description="Name, architecture, parameters, context, dtype or "
                         "quantization, size, chat template, source and last use of every "
                         "model (read from headers, no weights loaded).")
    _common(ls)
    ls.set_defaults(func=run_list)

    info = msub.add_parser("info", help="show a model's architecture and size",
                           description="Architecture, parameters, layers, dtype, size on disk, "
                           "max context and chat template of a model folder or GGUF file.")
    info.add_argument("model", metavar="MODEL", help="a name from `models list`, a model folder "
                      "or a .gguf file")
    _common(info)
    info.set_defaults(func=run_info)

    imp = msub.add_parser("import", help="convert a GGUF into a model folder for training",
                          description="De-quantize a llama-family GGUF (llama, mistral, qwen2, "
                          "qwen3, phi3, gemma...) once into a safetensors model folder with its "
                          "tokenizer and chat template. The last line printed is the folder.")
    imp.add_argument("gguf", type=Path, metavar="FILE.gguf")
    imp.add_argument("--name", help="folder name (default: the file name without .gguf)")
    _common(imp)
    imp.set_defaults(func=run_import)

    add = msub.add_parser("add", help="remember a model folder or GGUF file (nothing copied)",
                          description="Add a Hugging Face model folder, a GGUF file or a folder "
                          "of GGUF files (LM Studio's, Jan's) to the list.")
    add.add_argument("path", type=Path, metavar="PATH")
    add.set_defaults(func=run_add)

    fg = msub.add_parser("forget", help="drop an added model from the list (no files deleted)")
    fg.add_argument("model", metavar="MODEL")
    _common(fg)
    fg.set_defaults(func=run_forget)

    rm = msub.add_parser("remove", help="delete a model of the models folder (asks first)",
                         description="Delete a model folder of the app's models folder. The "
                         "Hugging Face cache and your own folders are never deleted (use "
                         "forget). A model a running training run uses is refused.")
    rm.add_argument("model", metavar="MODEL")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _common(rm)
    rm.set_defaults(func=run_remove)

    dl = msub.add_parser("download", help="download a model into the Hugging Face cache",
                         description="Download safetensors weights, config and tokenizer "
                         "(never .bin pickles) with huggingface_hub; an interrupted download "
                         "resumes when run again.")
    dl.add_argument("repo_id", metavar="ORG/NAME")
    dl.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    _common(dl)
    dl.set_defaults(func=run_download)

    cache = msub.add_parser("cache", help="sizes of the app's caches; clear one",
                            description="Sizes of the converted models and the training runs; "
                            "--clear deletes one of them (asks first; running runs and models "
                            "they use are kept).")
    cache.add_argument("--clear", choices=["models", "runs", "chat-gguf"])
    cache.add_argument("--yes", "-y", action="store_true", help="do not ask")
    _common(cache)
    cache.set_defaults(func=run_cache)

    st = msub.add_parser("import-starter", help="convert the bundled starter model (once)",
                         description="Convert the bundled SmolLM2-135M-Instruct GGUF into a "
                         "safetensors model folder. Safe to run again. The last line printed "
                         "is the model folder.")
    _common(st)
    st.set_defaults(func=run_import_starter)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=None, metavar="DIR",
                   help="the app's models folder (default: 'models' in the user data folder)")
    p.add_argument("--hf-cache", type=Path, default=None, metavar="DIR",
                   help="Hugging Face cache (default: HF_HUB_CACHE, HF_HOME/hub or "
                   "~/.cache/huggingface/hub)")
    p.add_argument("--runs-dir", type=Path, default=None, metavar="DIR",
                   help="training runs folder (default: 'runs' in the user data folder)")


def _models_dir(args: argparse.Namespace) -> Path:
    from llamahome_gui import paths

    return args.models_dir.expanduser() if args.models_dir else paths.models_dir()


def _runs_roots(args: argparse.Namespace) -> list[Path] | None:
    return [args.runs_dir.expanduser()] if args.runs_dir else None


def _fail(action: str, message: object, code: int = EXIT_USAGE) -> int:
    print(f"llamahome models {action}: {message}", file=sys.stderr)
    return code


def _list(args: argparse.Namespace) -> list:
    from llamahome_gui.core.models.registry import list_models

    return list_models(_models_dir(args), hf_cache=args.hf_cache, runs_roots=_runs_roots(args))


class StageBar:
    """``progress(stage, done, total)`` on stderr: a redrawn bar on a terminal, one line per
    stage otherwise (logs, pipes). A stage reported as 1 of 1 is a plain message."""

    def __init__(self, width: int = 28) -> None:
        self.tty = sys.stderr.isatty()
        self.width = width
        self.stage = ""
        self._open = False
        self._drawn = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        final = done == total == 1
        if stage != self.stage:
            self.close()
            self.stage = stage
            if not self.tty or final:
                print(stage if final else stage + "…", file=sys.stderr, flush=True)
                return
        if not self.tty or final or (time.monotonic() - self._drawn < 0.1 and done != total):
            return
        self._drawn = time.monotonic()
        if total:
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            sys.stderr.write(f"\r{stage} [{bar}] {100 * done / total:3.0f}%\033[K")
        else:
            sys.stderr.write(f"\r{stage}…\033[K")
        sys.stderr.flush()
        self._open = True

    def close(self) -> None:
        if self._open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._open = False


def run_list(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.registry import COLUMNS

    rows = _list(args)
    table = [list(COLUMNS) + ["Path"]] + [r.cells() + [str(r.path)] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) +
              "  " + line[-1])
    for r in rows:
        if r.error:
            print(f"! {r.name}: {r.error}")
        if r.pending:
            print(f"{r.name}: not imported yet; `llamahome models import-starter` prepares it "
                  "(or the first training run)")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.gguf_header import GGUFError, read_gguf_header
    from llamahome_gui.core.models.info import ModelInfoError, human_count, model_info
    from llamahome_gui.core.models.registry import ModelRegistryError, find_model
    from llamahome_gui.core.units import fmt_bytes

    target = Path(args.model).expanduser()
    try:
        if not target.exists():
            target = find_model(args.model, _list(args)).path
        if target.is_file():
            h = read_gguf_header(target)
            rows = [("File", str(target)), ("Name", h.name),
                    ("Architecture", h.architecture),
                    ("Parameters", f"{human_count(h.parameters)} ({h.parameters:,})"),
                    ("Layers", str(h.metadata.get(f"{h.architecture}.block_count", "?"))),
                    ("Vocabulary", f"{h.vocab_size:,}"),
                    ("Max context", f"{h.context_length:,} tokens"),
                    ("Quantization", h.quantization), ("Size on disk",
                                                       fmt_bytes(target.stat().st_size)),
                    ("Chat template", "yes" if h.has_chat_template else "no")]
            width = max(len(label) for label, _ in rows)
            print("\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in rows))
        else:
            print(model_info(target).table())
    except (ModelInfoError, GGUFError, ModelRegistryError) as exc:
        return _fail("info", exc)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.gguf_header import GGUFError
    from llamahome_gui.core.models.gguf_import import ModelImportError, import_gguf

    bar = StageBar()
    try:
        folder = import_gguf(args.gguf, _models_dir(args), name=args.name, progress=bar)
    except (GGUFError, ModelImportError) as exc:
        bar.close()
        return _fail("import", exc)
    except KeyboardInterrupt:
        bar.close()
        return _fail("import", "interrupted; nothing was written", EXIT_INTERRUPTED)
    bar.close()
    print(folder)
    return 0


def run_add(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.gguf_header import GGUFError
    from llamahome_gui.core.models.info import ModelInfoError
    from llamahome_gui.core.models.registry import ModelRegistryError, add_path

    try:
        rows = add_path(args.path)
    except (ModelRegistryError, ModelInfoError, GGUFError) as exc:
        return _fail("add", exc)
    for row in rows:
        print(f"added {row.name} ({row.source_label()})" + (f": {row.error}" if row.error else ""))
    return 0


def run_forget(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.registry import ModelRegistryError, find_model, forget

    try:
        row = find_model(args.model, _list(args))
    except ModelRegistryError as exc:
        return _fail("forget", exc)
    if row.removable:
        return _fail("forget", f"{row.name} is in the app's models folder; delete it with "
                     "`llamahome models remove`")
    forget(row.path)
    print(f"forgot {row.name} ({row.path} is untouched)")
    return 0


def _confirm(question: str) -> bool:
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = input()
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run_remove(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.registry import ModelRegistryError, find_model, remove_model
    from llamahome_gui.core.units import fmt_bytes

    models_dir = _models_dir(args)
    try:
        row = find_model(args.model, _list(args))
        if row.pending:
            raise ModelRegistryError(f"{row.name} is not imported yet: there is nothing to remove")
        if not row.removable:
            raise ModelRegistryError(f"{row.path} is not in the app's models folder "
                                     f"({models_dir}): it is never deleted here; `llamahome "
                                     f"models forget {row.name}` drops it from the list")
        if not args.yes and not _confirm(f"Delete {row.path} ({fmt_bytes(row.size_on_disk)})?"):
            print("nothing deleted", file=sys.stderr)
            return EXIT_FAILED
        freed = remove_model(row.path, models_dir, runs_roots=_runs_roots(args))
    except ModelRegistryError as exc:
        return _fail("remove", exc)
    print(f"removed {row.name}: {fmt_bytes(freed)} freed")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.hf_cache import DownloadCancelled, DownloadError, download_model

    bar = StageBar()
    try:
        folder = download_model(args.repo_id, revision=args.revision, cache=args.hf_cache,
                                progress=bar)
    except DownloadError as exc:
        bar.close()
        return _fail("download", exc, EXIT_FAILED)
    except (KeyboardInterrupt, DownloadCancelled):
        bar.close()
        return _fail("download", "interrupted; run it again to resume", EXIT_INTERRUPTED)
    bar.close()
    print(folder)
    return 0


def run_cache(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.caches import cache_sizes, clear_cache
    from llamahome_gui.core.units import fmt_bytes

    runs = args.runs_dir.expanduser() if args.runs_dir else None
    caches = {c.key: c for c in cache_sizes(_models_dir(args), runs)}
    if not args.clear:
        for c in caches.values():
            print(f"{c.label:<18} {fmt_bytes(c.size):>11}  {c.items:>3} items  {c.folder}")
        return 0
    c = caches[args.clear]
    if not args.yes and not _confirm(f"Delete all {c.items} items of {c.label.lower()} in "
                                     f"{c.folder} ({fmt_bytes(c.size)}; {c.note})?"):
        print("nothing deleted", file=sys.stderr)
        return EXIT_FAILED
    freed, kept = clear_cache(args.clear, _models_dir(args), runs)
    print(f"{c.label}: {fmt_bytes(freed)} freed" +
          (f"; kept (in use by a running run): {', '.join(kept)}" if kept else ""))
    return 0


class _Ticker:
    """Elapsed seconds on a terminal while a long step runs silently."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def say(self, message: str) -> None:
        if self._thread:
            sys.stderr.write("\r\033[K")
        print(message, file=sys.stderr, flush=True)

    def __enter__(self) -> _Ticker:
        if sys.stderr.isatty():
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
            sys.stderr.write("\r\033[K")

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(0.5):
            sys.stderr.write(f"\r  … {time.monotonic() - start:4.0f} s")
            sys.stderr.flush()


def run_import_starter(args: argparse.Namespace) -> int:
    from llamahome_gui.core.models.starter import StarterModelError, import_starter

    try:
        with _Ticker() as ticker:
            folder = import_starter(_models_dir(args), progress=ticker.say)
    except StarterModelError as exc:
        return _fail("import-starter", exc, EXIT_FAILED)
    print(folder)
    return 0
