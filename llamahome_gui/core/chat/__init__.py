"""Local chat: the streaming engine, prompt fitting, settings and saved conversations (no Qt)."""

from llamahome_gui.core.chat.conversation import (
    Conversation,
    ConversationFileError,
    Message,
    export_markdown,
    history_dir,
    list_conversations,
    load_conversation,
    save_conversation,
)
from llamahome_gui.core.chat.engine import (
    ABResult,
    ChatEngine,
    ChatEngineError,
    LoadInfo,
    UnloadInfo,
)
from llamahome_gui.core.chat.prompt import ContextOverflowError, PreparedPrompt, fit_to_context
from llamahome_gui.core.chat.settings import GenerationSettings
from llamahome_gui.core.chat.streaming import ChatStream, GenerationStats

__all__ = [
    "ABResult", "ChatEngine", "ChatEngineError", "ChatStream", "ContextOverflowError",
    "Conversation", "ConversationFileError", "GenerationSettings", "GenerationStats", "LoadInfo",
    "Message", "PreparedPrompt", "UnloadInfo", "export_markdown", "fit_to_context", "history_dir",
    "list_conversations", "load_conversation", "save_conversation",
]
