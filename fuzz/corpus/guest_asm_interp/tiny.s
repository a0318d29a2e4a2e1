mov r1, 3
l: sub r1, 1
jnz r1, l
exit 0
