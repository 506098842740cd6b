"""TIPS image-text training in PyTorch, mirroring the WebGPU engine in src/: the same presets,
parameter names, checkpoints (.safetensors) and data (WebDataset shards), for runs on GPUs with
torchrun (DDP, FSDP). See docs/scaling.md."""
