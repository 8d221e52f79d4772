"""Weight file formats: each reader turns a file into arrays by name, nothing else."""
