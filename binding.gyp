{
  "targets": [
    {
      "target_name": "tsrunc",
      "sources": ["native/addon.cc", "native/bpf.cc", "native/daemon.cc", "native/executor.cc", "native/fdpass.cc", "native/netdev.cc", "native/netlink.cc", "native/peer.cc", "native/sdbus.cc", "native/seccomp.cc", "native/spawn.cc", "native/sys.cc"],
      "libraries": ["<!(pkg-config --libs libseccomp)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-rtti"]
    },
    {
      "target_name": "tsrunc-init",
      "type": "executable",
      "sources": ["native/init/init.cc", "native/init/in-root.cc", "native/init/steps.cc", "native/fdpass.cc", "native/netlink.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-O2"],
      "ldflags": ["-static", "-s"]
    },
    {
      "target_name": "tsrunc-front",
      "type": "executable",
      "sources": ["native/front/front.cc", "native/fdpass.cc", "native/peer.cc", "native/spawn.cc"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-fno-rtti", "-O2"],
      "ldflags": ["-static", "-s"]
    }
  ]
}
