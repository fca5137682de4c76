# tx_embed_bytes(VAR FILE): sets VAR_BYTES to a C byte-array initializer of FILE's bytes
# ("0x2f,0x2a,...", 16 a line, ending with a comma) and VAR_LEN to its length. Included by the
# scripts that build files into the binary (embed.cmake, embed_docs.cmake).
function(tx_embed_bytes var file)
  file(READ ${file} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # Break the initializer into lines so compilers and editors stay happy.
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
  set(${var}_BYTES "${bytes}" PARENT_SCOPE)
  set(${var}_LEN ${len} PARENT_SCOPE)
endfunction()
