#include <cstdio>
int main() { std::puts("larql"); return 0; }
