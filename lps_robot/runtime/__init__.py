"""Deploy-side runtime: numpy + onnxruntime only (never torch)."""
