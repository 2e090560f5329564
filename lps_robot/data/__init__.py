"""HDF5 episodes: schema, crash-safe writer, reader/validator, chunked training dataset."""
