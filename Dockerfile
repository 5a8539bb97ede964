# Serving image, built from the exported bento by the serving issue (BentoML bundle).
# Placeholder: the data layer has nothing to serve yet.
