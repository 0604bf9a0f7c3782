"""LlamaHome GUI: fine-tune (LoRA) and chat with local language models."""

__version__ = "0.1.0"
APP_NAME = "LlamaHome GUI"


def _quiet_optional_kernels() -> None:
    """bitsandbytes (the optional ``gpu`` extra), imported by peft whenever it is installed,
    warns on every start that it cannot download a CPU kernel; we never download at run time,
    so that line is noise in every command's output."""
    import logging

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


_quiet_optional_kernels()
