/* The explain subcommand: allowed or denied for one connection, and the policy, rule and peer
 * that decide it, from the rulesets the agent would program (see README "Seeing what it did"). */
#ifndef EXPLAIN_H
#define EXPLAIN_H

/* argv without the program and subcommand names. Prints the explanation on stdout, ending in a
 * line "allowed" or "denied"; returns 0, 1 on a failure to read or resolve, 2 on bad flags. */
int explain_main(int argc, char **argv);

#endif
