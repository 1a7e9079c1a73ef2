# Compiles SOURCE with -DFIELD_${FIELD}; passes when the compiler refuses it and says EXPECT
# (or, with EXPECT empty, when it compiles).
execute_process(
  COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE} -DFIELD_${FIELD} ${SOURCE}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(EXPECT STREQUAL "")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "the control program does not compile:\n${out}")
  endif()
  return()
endif()
if(status EQUAL 0)
  message(FATAL_ERROR "a trace of a ${FIELD} field compiled; it must be refused")
endif()
string(FIND "${out}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "refused, but without the message \"${EXPECT}\":\n${out}")
endif()
