# Installs the already-built poolkit into WORK_DIR/prefix, then builds and runs two consumers
# against it: one that takes every layer (find_package(poolkit)), and a Redis-only one
# (find_package(poolkit COMPONENTS redis)) whose program must not link libmongoc or libcurl.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGV}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

function(build_consumer name source_dir)
  run(${CMAKE_COMMAND} -S ${source_dir} -B ${WORK_DIR}/${name} -G Ninja
      -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${name})
  run(${WORK_DIR}/${name}/${name})
endfunction()

run(${CMAKE_COMMAND} --install ${POOLKIT_BINARY_DIR} --prefix ${prefix})

# The pool's engine is private (src/core/pool/): the installed headers may name PoolCore and
# Slot, never define them or show the engine's parts.
file(GLOB_RECURSE installed_headers ${prefix}/include/poolkit/*.hpp)
foreach(header ${installed_headers})
  file(READ ${header} text)
  if(text MATCHES "class PoolCore[ \n]*[{:]|struct[^;{]*Slot[ \n]*{|class (SlotTable|WaitQueue|PoolCounters|Maintenance)[ \n]*{")
    message(FATAL_ERROR "${header} shows the pool engine's internals (${CMAKE_MATCH_0}); they "
                        "belong in src/core/pool/, the installed headers only declare PoolCore")
  endif()
endforeach()
build_consumer(consumer ${CONSUMER_SOURCE_DIR}/consumer)
build_consumer(redis_consumer ${CONSUMER_SOURCE_DIR}/redis_consumer)

execute_process(COMMAND readelf -d ${WORK_DIR}/redis_consumer/redis_consumer
                OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed on the Redis-only consumer")
endif()
foreach(library libmongoc libbson libcurl)
  if(dynamic MATCHES "NEEDED[^\n]*${library}")
    message(FATAL_ERROR "the Redis-only consumer links ${library}:\n${dynamic}")
  endif()
endforeach()
message(STATUS "the Redis-only consumer links neither libmongoc nor libcurl")
