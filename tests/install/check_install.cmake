# cmake -DBUILD_DIR=... -DWORK_DIR=... -DSOURCE_DIR=... [-DCXX_FLAGS=...] [-DPYTHON=... -DPYTHON_DIR=...]
#       -P ...
# Installs the build into a fresh prefix, then checks what a user of the install relies on: the
# installed executable runs (and finds its library and plugin), a separate CMake project finds
# the package, builds against it and trains a model, and the installed Python package imports
# the installed library (not the build tree's) and trains.
# (Arguments must not contain semicolons: ARGN would split them.)
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
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
if(NOT out MATCHES "\"overall\"" OR NOT out MATCHES "\"rmse\": [0-9]")
  message(FATAL_ERROR "unexpected output from the consumer:\n${out}")
endif()
if(DEFINED PYTHON)
  run(${CMAKE_COMMAND} -E env PYTHONPATH=${prefix}/${PYTHON_DIR} ${PYTHON} -c
      "import ppmf\nr, ug, ig = ppmf.synth(500, 80)\nm = ppmf.Model.fit(r, rank=2, epochs=2, device='cpu', quiet=True)\nprint(ppmf._ppmf.__file__)\nprint(m)")
  if(NOT out MATCHES "^${prefix}/" OR NOT out MATCHES "ppmf.Model rank 2")
    message(FATAL_ERROR "the installed Python package did not load from ${prefix}:\n${out}")
  endif()
endif()
message(STATUS "install check passed")
