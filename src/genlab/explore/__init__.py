"""Named explorations, the CLI's exploration layer (``genlab explore KIND RUN``).

Each module registers its explorations in `genlab.registry.EXPLORERS`; the
bodies are plain functions callable from Python (`interpolation_grid`,
`traversal_grid`, `class_grid`, ...). The maths and drawing they share with
the model families live lower: `genlab.latent` and `genlab.viz`.
"""
