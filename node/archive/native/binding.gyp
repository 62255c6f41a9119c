{
  "targets": [
    {
      "target_name": "tape_ioctl",
      "sources": ["tape-ioctl.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
