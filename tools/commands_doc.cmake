# docs/commands.md's command reference is generated from the command table
# (control/commands.hpp) by `briskd --print-commands markdown`; it sits between the two
# marker lines below, and everything outside them is written by hand.
#   cmake -DBRISKD=build/briskd -DDOC=docs/commands.md -DMODE=check -P tools/commands_doc.cmake
#     fails when the committed text differs from the generated one (ctest docs.commands_md);
#   ... -DMODE=update ... writes the generated text in (ninja -C build commands-doc).
# The embedded command list of `brisk --help`:
#   cmake -DBRISKD=build/briskd -DOUT=build/generated/brisk_commands.inc -DMODE=embed -P ...
#     writes it as a C++ raw string literal (only when it changed).
set(begin_marker "<!-- BEGIN GENERATED: briskd --print-commands markdown (control/commands*.cpp) -->")
set(end_marker "<!-- END GENERATED -->")

# Sanitizer builds: the process exits right after printing; leaks are not the point here.
set(ENV{ASAN_OPTIONS} "detect_leaks=0")

if(MODE STREQUAL "embed")
  execute_process(COMMAND "${BRISKD}" --print-commands text
                  OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BRISKD} --print-commands text failed (${rc})")
  endif()
  set(content "R\"brisk_commands(${text})brisk_commands\"\n")
  if(EXISTS "${OUT}")
    file(READ "${OUT}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${OUT}" "${content}")
  return()
endif()

execute_process(COMMAND "${BRISKD}" --print-commands markdown
                OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BRISKD} --print-commands markdown failed (${rc})")
endif()
file(READ "${DOC}" doc)
string(FIND "${doc}" "${begin_marker}\n" b)
string(FIND "${doc}" "${end_marker}\n" e)
if(b EQUAL -1 OR e EQUAL -1 OR e LESS b)
  message(FATAL_ERROR "${DOC} lacks the marker lines\n${begin_marker}\n${end_marker}")
endif()
string(LENGTH "${begin_marker}\n" blen)
math(EXPR gstart "${b} + ${blen}")
math(EXPR glen "${e} - ${gstart}")
string(SUBSTRING "${doc}" 0 ${gstart} head)
string(SUBSTRING "${doc}" ${gstart} ${glen} committed)
string(SUBSTRING "${doc}" ${e} -1 tail)

if(MODE STREQUAL "check")
  if(NOT committed STREQUAL generated)
    file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/commands.md.generated" "${generated}")
    message(FATAL_ERROR
      "${DOC}: the command reference differs from the command table "
      "(generated text: ${CMAKE_CURRENT_BINARY_DIR}/commands.md.generated). "
      "Regenerate it: ninja -C build commands-doc")
  endif()
  message(STATUS "${DOC}: the command reference matches the command table")
elseif(MODE STREQUAL "update")
  if(NOT committed STREQUAL generated)
    file(WRITE "${DOC}" "${head}${generated}${tail}")
    message(STATUS "${DOC}: command reference regenerated")
  endif()
else()
  message(FATAL_ERROR "MODE must be check, update or embed")
endif()
