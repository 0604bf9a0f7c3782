"""The engine. No Qt; torch / transformers / peft are imported inside functions."""
