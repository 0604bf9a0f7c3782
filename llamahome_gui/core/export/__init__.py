"""Taking a model out (no Qt; torch, transformers, peft and gguf imported inside functions).

Public API (the CLI, the Export dialog and tests use these):

- ``gguf_writer.write_gguf(model_dir, out, quant="f16", *, name=None, progress=None,
  cancel=None) -> Path``: a safetensors model folder as one GGUF file (llama, mistral, qwen2;
  f32 / f16 / bf16 / q8_0 / q4_0). ``plan`` / ``expected_size`` / ``check_exportable`` answer
  cheaply (headers only) what would be written.
- ``parity.check_parity(reference_dir, gguf_path, quant, system_prompt=...) -> ParityResult``.
- ``ollama.modelfile(tokenizer, gguf_name, system_prompt=..., temperature=..., top_p=...)``.
- ``merge.merge_adapter(base_dir, adapter, out, dtype="auto")``: the merged safetensors folder.
- ``sources.resolve_source(source, model) -> ExportSource`` (run, adapter or model folder).
- ``pipeline.run_export(source, ExportRequest(...), progress=..., cancel=...) -> ExportResult``:
  one whole export, checked first (``ExportError``, nothing written), built under a hidden
  temporary name and renamed into place (Cancel: ``ExportCancelled``, nothing left).
"""
