"""The dataset pipeline: readers, converters to Bailian ChatML, validation, token counts, costs."""
