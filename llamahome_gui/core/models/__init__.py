"""Models: the bundled starter model, the models folder, model info, memory estimates."""
