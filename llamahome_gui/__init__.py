"""LlamaHome GUI: fine-tune (LoRA) and chat with local language models."""

__version__ = "0.1.0"
APP_NAME = "LlamaHome GUI"
