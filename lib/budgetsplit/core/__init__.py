"""The bottom layer: files on disk, the budget arithmetic, where a study's files live, the task
and PFT-method tables, CPU threads, ChatML and progress bars. Imports nothing else of the package."""
