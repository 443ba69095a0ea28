"""Scientific Data Applications shipped with EXPLORE; each is found through the ``explore.apps`` entry point group."""
