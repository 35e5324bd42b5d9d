"""Training: the only package that imports torch. Data, augmentation, models, optimizers, the
epoch loop and the study runner. Never imports textual."""
