"""Start Flower Studio: ``python main.py [dataset-folder | model.safetensors]``."""
import sys

from flowerstudio.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
