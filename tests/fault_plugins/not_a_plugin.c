/* A plain shared library without rwkvb_backend_entry: the loader must say it is not a plugin. */
int rwkvb_not_the_entry(void) { return 0; }
