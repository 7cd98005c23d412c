/* The smallest program: test/native.test.ts links it statically to check smaf exec's warning. */
#include <stdio.h>

int main(void)
{
	puts("hello");
	return 0;
}
