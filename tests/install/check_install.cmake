# cmake -DBUILD_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... -P check_install.cmake
# Installs the build into a fresh prefix, then checks what a user of the install relies on: the
# installed executable runs (and finds its library and plugin), and a separate CMake project finds
# the package, builds against it and trains a model.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${prefix}/bin/ppmf-gpu devices)
if(out MATCHES "cannot load the CUDA plugin")
  message(FATAL_ERROR "the installed plugin does not load: ${out}")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/consumer
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
if(NOT out MATCHES "\"overall\"" OR NOT out MATCHES "\"rmse\": [0-9]")
  message(FATAL_ERROR "unexpected output from the consumer:\n${out}")
endif()
message(STATUS "install check passed")
