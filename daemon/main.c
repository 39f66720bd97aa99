#include <stdio.h>
int main(void) { puts("mailhub"); return 0; }
