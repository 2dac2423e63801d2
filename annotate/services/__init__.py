"""Write-side business logic of the annotate app, one small function per action."""
