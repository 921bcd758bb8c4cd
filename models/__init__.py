"""Model families of the suite: one module per family, each an `nn.Module` with a Hub config."""
