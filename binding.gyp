{
  # The source lists live in native/sources.json, read here and by CMakeLists.txt,
  # so the two builds cannot drift apart.
  "target_defaults": {
    # -ffp-contract=off: a * b + c is two roundings on every target, as the code and the js twin
    # compute it. GCC fuses it into one FMA wherever the target has FMA (all of AArch64, the
    # AVX2 files), which made arm64's small products and scalar path differ from x86's in the
    # last bits, and a split-depth product's sum differ from one thread's. The SIMD code asks
    # for its FMAs by name.
    "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fexceptions", "-ffp-contract=off"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags!": ["-fno-exceptions"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"],
    },
    "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } },
  },
  "targets": [
    {
      "target_name": "neurone",
      "sources": [
        "<!@(node -p \"require('./native/sources.json').binding.join(' ')\")",
        "<!@(node -p \"require('./native/sources.json').kernels.join(' ')\")",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["NEURONE_HAVE_AVX2", "NEURONE_HAVE_AVX512"],
          "dependencies": ["neurone_avx2", "neurone_avx512"],
        }],
        ["target_arch=='arm64' and OS!='win'", {
          # Advanced SIMD is baseline on AArch64: compiled with the rest, no flags. Not with MSVC
          # (Windows on Arm), whose NEON types and builtins the files are not written for: the
          # scalar path runs there.
          "sources": ["<!@(node -p \"require('./native/sources.json').neon.join(' ')\")"],
          "defines": ["NEURONE_HAVE_NEON"],
        }],
        ["OS=='linux'", { "libraries": ["-lpthread"] }],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          # Only these files are compiled for AVX2/AVX-512; everything else stays
          # baseline x86-64, and cpu.cc picks a path at run time.
          "target_name": "neurone_avx2",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./native/sources.json').avx2.join(' ')\")"],
          "include_dirs": ["native"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-mavx2", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "EnableEnhancedInstructionSet": "5" } },
        },
        {
          "target_name": "neurone_avx512",
          "type": "static_library",
          "sources": ["<!@(node -p \"require('./native/sources.json').avx512.join(' ')\")"],
          "include_dirs": ["native"],
          "cflags_cc": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma", "-mavx2"],
          "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX512"] } },
        },
      ],
    }],
  ],
}
