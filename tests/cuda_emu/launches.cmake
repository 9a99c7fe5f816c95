# cmake -DIN=file.cu -DOUT=file.cc -P launches.cmake: the kernel file with every launch
# `kernel<<<config>>>(args)` rewritten as `emu_launch("kernel", kernel,
# iolm_emu_cfg(config), args)` (tests/cuda_emu/cuda_runtime.h), and nothing else
# changed: lines keep their numbers, and a #line names the original file.
file(READ "${IN}" src)
string(REGEX REPLACE
  "([A-Za-z_][A-Za-z0-9_]*(<[^<>;()]*>)?)<<<([^;<>]*)>>>\\("
  "emu_launch(\"\\1\", \\1, iolm_emu_cfg(\\3), " out "${src}")
if(out MATCHES "<<<|>>>")
  message(FATAL_ERROR "${IN}: a kernel launch launches.cmake cannot rewrite")
endif()
file(WRITE "${OUT}.tmp" "#line 1 \"${IN}\"\n${out}")
file(RENAME "${OUT}.tmp" "${OUT}")
