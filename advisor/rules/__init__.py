"""Rule files: loading, validation, compilation, and the one adapter to durable-rules."""
