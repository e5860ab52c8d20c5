"""Dialogs for the model tools: learning-rate finder, model export, server export."""
