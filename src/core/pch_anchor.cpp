// Anchor for the shared precompiled header target (eh_torch_pch); holds no code.
