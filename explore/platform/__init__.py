"""The EXPLORE platform: accounts, workspace, app catalogue, runs, annotations, selections, products index, provenance. No science, no HTTP."""
