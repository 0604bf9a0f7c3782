"""The OpenAI-compatible server: one model in memory, adapters as model ids, a bounded queue,
disconnect = stop. FastAPI and uvicorn are imported only by ``app`` and ``server``."""
