# The OpenAPI description of the REST API (src/server/openapi.json) is compiled into the
# server as a byte array, so that the document a client fetches is the file in the source.
# This file is both a module of CMakeLists.txt and, run with -P, the script that writes the
# C source: cmake -DIN=openapi.json -DOUT=openapi_doc.c -P cmake/openapi.cmake
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${IN}" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])"
         "\\1\n" hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  file(WRITE "${OUT}.tmp"
       "/* Generated from src/server/openapi.json by cmake/openapi.cmake: do not edit. */\n"
       "#include \"server/openapi.h\"\n\n"
       "const char api_openapi_json[] = {\n${bytes}0x00};\n"
       "const size_t api_openapi_json_len = ${n};\n")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

set(GPUAAS_OPENAPI_JSON ${CMAKE_SOURCE_DIR}/src/server/openapi.json)
set(GPUAAS_OPENAPI_C ${CMAKE_BINARY_DIR}/generated/openapi_doc.c)
add_custom_command(OUTPUT ${GPUAAS_OPENAPI_C}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated
  COMMAND ${CMAKE_COMMAND} -DIN=${GPUAAS_OPENAPI_JSON} -DOUT=${GPUAAS_OPENAPI_C}
          -P ${CMAKE_SOURCE_DIR}/cmake/openapi.cmake
  DEPENDS ${GPUAAS_OPENAPI_JSON} ${CMAKE_SOURCE_DIR}/cmake/openapi.cmake
  COMMENT "Embedding the OpenAPI description")
target_sources(gpuaas_lib PRIVATE ${GPUAAS_OPENAPI_C})
