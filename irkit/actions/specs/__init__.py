"""One module per action (two for pairs such as scale and restore): its ``ActionSpec``."""
